"""The workbench (工作台): server-rendered pages where people do the work, by role.

Every action goes through the same HTTP API the integrations use, with the signed-in key
(:mod:`services.router.pages.workbench.upstream`), so one rule and one audit trail hold for
both; see docs/workbench.md.
"""
