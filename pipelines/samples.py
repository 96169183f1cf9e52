"""The Clay contacts mapping of docs/samples/clay-contacts.csv, in its stored shape.

One copy for everyone who needs "the usual Clay export": the demo seeds it, the tests' workflow
factory uses it, and the pipeline benchmark loads with it (so the benchmark measures the mapping
a new admin starts from).
"""

from __future__ import annotations

CLAY_CONTACTS_MAPPING: list[dict] = [
    {"from": "Email", "to": "email", "transforms": ["strip", "lower"], "required": True},
    {"from": "First Name", "to": "firstname", "transforms": ["strip"], "required": False},
    {"from": "Last Name", "to": "lastname", "transforms": ["strip"], "required": False},
    {"from": "Company Name", "to": "company", "transforms": ["strip"], "required": False},
    {"from": "Job Title", "to": "jobtitle", "transforms": ["strip"], "required": False},
    {"from": "Phone", "to": "phone", "transforms": ["e164"], "required": False},
    {"from": "Country", "to": "country", "transforms": ["strip"], "required": False},
    {"from": "Website", "to": "website", "transforms": ["url"], "required": False},
    {"from": "LinkedIn URL", "to": "hs_linkedin_url", "transforms": ["url"], "required": False},
]
