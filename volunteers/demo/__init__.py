"""The demo scenario: the Suzhou financial-sector league committee's 2022 mobilisation.

``seed_demo`` builds it; ``make run`` prints these logins. All demo accounts share one password.
"""

DEMO_PASSWORD = "demo-2022"  # noqa: S105 - published on purpose: demo data only

# (role, username, what to try) - the usernames seed_demo creates.
DEMO_LOGINS = [
    ("superuser", "admin", "Django admin and every API"),
    ("league committee staff", "tuanwei", "statistics, dispatch, exports"),
    ("community coordinator", "coordinator", "rotas, roster, check-in codes"),
    ("team leader", "13800000002", "the team's shifts and attendance"),
    ("volunteer", "13800000001", "sign up for shifts, check in"),
]
