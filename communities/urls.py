from django.urls import path

from . import records_views, views

urlpatterns = [
    path("shifts/", views.shift_browse, name="shift-list"),
    path("shifts/<int:pk>/", views.shift_detail, name="shift-detail"),
    path("shifts/<int:pk>/sign-up/", views.shift_sign_up, name="shift-sign-up"),
    path("my/shifts/", views.my_shifts, name="my-shifts"),
    path("my/week/", views.my_week, name="my-week"),
    path("my/assignments/<int:pk>/cancel/", views.assignment_cancel, name="assignment-cancel"),
    path("my/assignments/<int:pk>/check-out/", views.check_out, name="check-out"),
    path("check-in/", views.check_in, name="check-in"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/read/", views.inbox_mark_read, name="inbox-read-all"),
    path("inbox/<int:pk>/read/", views.inbox_mark_read, name="inbox-read"),
    path("records/volunteers/", records_views.volunteer_list, name="records-volunteers"),
    path("records/volunteers/<int:pk>/", records_views.volunteer_edit, name="records-volunteer-edit"),
    path(
        "records/volunteers/<int:pk>/qualifications/",
        records_views.qualification_add,
        name="records-qualification-add",
    ),
    path("records/requests/", records_views.change_request_queue, name="records-change-requests"),
    path(
        "records/requests/<int:pk>/approve/",
        records_views.change_request_approve,
        name="records-change-request-approve",
    ),
    path(
        "records/requests/<int:pk>/reject/", records_views.change_request_reject, name="records-change-request-reject"
    ),
    path("records/at-risk/", records_views.eligibility_at_risk, name="records-at-risk"),
    path("records/proofs/<slug:kind>/<int:pk>/", records_views.proof_file, name="record-proof"),
    path("me/records/", records_views.my_requests, name="records-my-requests"),
    path("me/delete/", records_views.account_delete, name="records-account-delete"),
]
