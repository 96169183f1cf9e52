"""Company enrichment: HubSpot companies enriched from Apollo, BuiltWith and Clearbit in
parallel, combined field by field, scored, and written back (docs/enrichment.md).

Its own app because it is a workflow kind with its own models (cache, rules versions, run
figures); it builds on pipelines (Workflow, Run, RunRecord, DeadLetter) and integrations
(client_for) and is never imported by them: pipelines calls it through registered hooks.
"""
