# Privacy models; audit events become append-only (no FK rewrite on user delete), keyset indexes.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0002_auditevent'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PrivacyRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('erasure', 'Erasure (GDPR Art. 17)'), ('access', 'Access export (CCPA)')], max_length=20)),
                ('email_hash', models.CharField(db_index=True, max_length=64)),
                ('status', models.CharField(choices=[('completed', 'Completed'), ('partial', 'Partial: a store failed; run it again')], max_length=20)),
                ('receipt', models.JSONField(blank=True, default=dict)),
                ('actor_label', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['-id'],
                'permissions': [('perform_privacy_request', "Can erase a person's data (privacy erasure requests)")],
            },
        ),
        migrations.CreateModel(
            name='SuppressedEmail',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('email_hash', models.CharField(max_length=64, unique=True)),
                ('reason', models.CharField(default='erasure', max_length=40)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'verbose_name': 'suppressed email',
            },
        ),
        migrations.RemoveIndex(
            model_name='auditevent',
            name='audit_audit_object__0e78a5_idx',
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='action',
            field=models.CharField(max_length=80),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='actor',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AlterField(
            model_name='auditevent',
            name='created_at',
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['object_type', 'object_id', 'id'], name='audit_event_object_idx'),
        ),
        migrations.AddIndex(
            model_name='auditevent',
            index=models.Index(fields=['action', 'id'], name='audit_event_action_id_idx'),
        ),
        migrations.AddField(
            model_name='privacyrequest',
            name='actor',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
    ]
