from django.urls import path

from . import coordinator_views as views

urlpatterns = [
    path("coordinator/", views.coordinator_today, name="coordinator-today"),
    path("coordinator/communities/<int:community_id>/roster/", views.coordinator_roster, name="coordinator-roster"),
    path("coordinator/communities/<int:community_id>/rota/", views.coordinator_rota, name="coordinator-rota"),
    path("coordinator/shifts/<int:shift_id>/code/", views.coordinator_code, name="coordinator-code"),
    path("coordinator/shifts/<int:shift_id>/candidates/", views.coordinator_candidates, name="coordinator-candidates"),
    path(
        "coordinator/attendance/<int:assignment_id>/<slug:action>/",
        views.coordinator_attendance,
        name="coordinator-attendance",
    ),
    path("coordinator/hours/", views.coordinator_hours, name="coordinator-hours"),
    path(
        "coordinator/hours/<int:assignment_id>/<slug:action>/",
        views.coordinator_hours_action,
        name="coordinator-hours-action",
    ),
    path(
        "coordinator/shifts/<int:shift_id>/approve-hours/",
        views.coordinator_hours_approve_shift,
        name="coordinator-hours-approve-shift",
    ),
    path("coordinator/shifts/<int:shift_id>/edit/", views.coordinator_shift_edit, name="coordinator-shift-edit"),
    path("coordinator/shifts/<int:shift_id>/cancel/", views.coordinator_shift_cancel, name="coordinator-shift-cancel"),
    path("coordinator/messages/failed/", views.coordinator_failed_messages, name="coordinator-failed-messages"),
    path(
        "coordinator/messages/failed/<int:notification_id>/retry/",
        views.coordinator_failed_message_retry,
        name="coordinator-failed-message-retry",
    ),
    path("team/", views.team_overview, name="team-overview"),
    path("committee/dispatch/", views.committee_dispatch, name="committee-dispatch"),
]
