"""Mounted under ADMIN_URL + "switchyard/" (config/urls.py), before the admin's own URLs."""

from django.urls import path

from pipelines.screens import dead_letters, imports, mappings, runs

app_name = "switchyard"

urlpatterns = [
    path("import/", imports.import_upload, name="import"),
    path("import/start/", imports.import_start, name="import-start"),
    path("import/columns/", imports.import_columns, name="import-columns"),
    path("runs/", runs.run_history, name="runs"),
    path("runs/<int:run_id>/", runs.run_detail, name="run"),
    path("runs/<int:run_id>/progress.json", runs.run_progress_json, name="run-progress"),
    path("runs/<int:run_id>/input-file", runs.run_input_file, name="run-input-file"),
    path("runs/<int:run_id>/records/<int:record_id>/", runs.run_record_detail, name="run-record"),
    path("dead-letters/", dead_letters.dead_letter_queue, name="dead-letters"),
    path("dead-letters/export.csv", dead_letters.dead_letter_export, name="dead-letters-export"),
    path("dead-letters/<int:dead_letter_id>/", dead_letters.dead_letter_detail, name="dead-letter"),
    path("mappings/", mappings.mapping_index, name="mappings"),
    path("mappings/<int:workflow_id>/", mappings.mapping_edit, name="mapping"),
    path(
        "mappings/<int:workflow_id>/preview.json", mappings.mapping_preview, name="mapping-preview"
    ),
]
