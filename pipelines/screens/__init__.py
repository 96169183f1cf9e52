"""The RevOps admin's screens for the Clay → HubSpot contact sync: CSV import wizard,
dead-letter review, run history and the field-mapping editor.

Custom admin pages (admin_view + each_context), not ModelAdmins: each is a flow across several
models. Views only parse, check permissions and render; reads are in selectors.py, writes go
through the core services (pipelines/services/) or the few wrappers in services.py.
"""
