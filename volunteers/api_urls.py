from django.urls import path

from . import api

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("me/", api.MeView.as_view(), name="me"),
    path("me/calendar.ics", api.CalendarView.as_view(), name="me-calendar"),
    path("me/calendar-link/", api.CalendarLinkView.as_view(), name="me-calendar-link"),
]
