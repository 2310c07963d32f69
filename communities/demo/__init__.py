"""The demo scenario: the Suzhou financial-sector league committee's 2022 mobilisation.

``seed_demo`` builds it; ``make run`` prints these logins. All demo accounts share one password,
and every one but the superuser also logs in by texted code with the mobile number shown (with
the file SMS backend, ``make run`` prints each code it sends).
"""

DEMO_PASSWORD = "demo-2022"  # noqa: S105 - published on purpose: demo data only

# (role, username, mobile for the code log-in, what to try) - the accounts seed_demo creates.
DEMO_LOGINS = [
    ("superuser", "admin", "", "Django admin and every API"),
    ("league committee staff", "tuanwei", "13800000003", "statistics, dispatch, exports"),
    ("community coordinator", "coordinator", "13800000004", "rotas, roster, check-in codes"),
    ("team leader", "13800000002", "13800000002", "the team's shifts and attendance"),
    ("volunteer", "13800000001", "13800000001", "sign up for shifts, check in"),
]
