from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pipelines", "0017_dead_letter_search_trigram"),
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
