"""Pipelines business logic: keyword-only service functions named <entity>_<action>.

Views, tasks, commands and the admin call these; nothing else writes pipelines data.
"""
