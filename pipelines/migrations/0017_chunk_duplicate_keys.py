from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0016_merge_0011_named_sweepers_0015_merge_branches_3"),
    ]

    operations = [
        migrations.AddField(
            model_name="runchunk",
            name="duplicate_keys",
            field=models.JSONField(
                blank=True,
                default=list,
                help_text="Match keys of its rows that occur more than once in the file: "
                "held back until the whole file is staged and deduplicated.",
            ),
        ),
    ]
