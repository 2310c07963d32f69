"""Every page of participation: the one URL table of communities' pages."""

from django.urls import path

from communities.views import certificates, committee, coordinator, me, shifts

urlpatterns = [
    path("", me.home, name="home"),
    path("me/hours/", me.hours, name="my-hours"),
    path("shifts/", shifts.shift_browse, name="shift-list"),
    path("shifts/<int:pk>/", shifts.shift_detail, name="shift-detail"),
    path("shifts/<int:pk>/sign-up/", shifts.shift_sign_up, name="shift-sign-up"),
    path("my/shifts/", shifts.my_shifts, name="my-shifts"),
    path("my/week/", shifts.my_week, name="my-week"),
    path("my/assignments/<int:pk>/cancel/", shifts.assignment_cancel, name="assignment-cancel"),
    path("my/assignments/<int:pk>/check-out/", shifts.check_out, name="check-out"),
    path("check-in/", shifts.check_in, name="check-in"),
    path("inbox/", shifts.inbox, name="inbox"),
    path("inbox/read/", shifts.inbox_mark_read, name="inbox-read-all"),
    path("inbox/<int:pk>/read/", shifts.inbox_mark_read, name="inbox-read"),
    path("coordinator/", coordinator.coordinator_today, name="coordinator-today"),
    path(
        "coordinator/communities/<int:community_id>/roster/", coordinator.coordinator_roster, name="coordinator-roster"
    ),
    path("coordinator/communities/<int:community_id>/rota/", coordinator.coordinator_rota, name="coordinator-rota"),
    path("coordinator/shifts/<int:shift_id>/code/", coordinator.coordinator_code, name="coordinator-code"),
    path(
        "coordinator/shifts/<int:shift_id>/candidates/",
        coordinator.coordinator_candidates,
        name="coordinator-candidates",
    ),
    path(
        "coordinator/attendance/<int:assignment_id>/<slug:action>/",
        coordinator.coordinator_attendance,
        name="coordinator-attendance",
    ),
    path("coordinator/hours/", coordinator.coordinator_hours, name="coordinator-hours"),
    path(
        "coordinator/hours/<int:assignment_id>/<slug:action>/",
        coordinator.coordinator_hours_action,
        name="coordinator-hours-action",
    ),
    path(
        "coordinator/shifts/<int:shift_id>/approve-hours/",
        coordinator.coordinator_hours_approve_shift,
        name="coordinator-hours-approve-shift",
    ),
    path("coordinator/shifts/<int:shift_id>/edit/", coordinator.coordinator_shift_edit, name="coordinator-shift-edit"),
    path(
        "coordinator/shifts/<int:shift_id>/cancel/",
        coordinator.coordinator_shift_cancel,
        name="coordinator-shift-cancel",
    ),
    path("coordinator/messages/failed/", coordinator.coordinator_failed_messages, name="coordinator-failed-messages"),
    path(
        "coordinator/messages/failed/<int:notification_id>/retry/",
        coordinator.coordinator_failed_message_retry,
        name="coordinator-failed-message-retry",
    ),
    path("team/", coordinator.team_overview, name="team-overview"),
    path("committee/dispatch/", coordinator.committee_dispatch, name="committee-dispatch"),
    path("committee/", committee.dashboard, name="committee-dashboard"),
    path("committee/organizations/<int:pk>/", committee.organization_detail, name="committee-organization"),
    path("committee/teams/<int:pk>/", committee.team_detail, name="committee-team"),
    path("committee/volunteers/<int:pk>/", committee.volunteer_detail, name="committee-volunteer"),
    path("committee/volunteers/<int:pk>/certificate/", committee.certificate_issue, name="committee-certificate-issue"),
    path("committee/reports/", committee.report_list, name="committee-reports"),
    path("verify/", certificates.verify, name="certificate-verify-form"),
    path("verify/<str:number>/", certificates.verify, name="certificate-verify"),
]
