from django.urls import path

from . import views

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
]
