from django.urls import path

from . import api

urlpatterns = [
    path("auth/sms-code/", api.SmsCodeView.as_view(), name="auth-sms-code"),
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("auth/token/reset/", api.TokenResetView.as_view(), name="auth-token-reset"),
    path("me/id-number/", api.IdNumberView.as_view(), name="me-id-number"),
    path("me/export/", api.DataExportView.as_view(), name="me-export"),
    path("me/password/", api.PasswordView.as_view(), name="me-password"),
    path("me/preferences/", api.PreferencesView.as_view(), name="me-preferences"),
    path("me/delete/", api.AccountDeleteView.as_view(), name="me-delete"),
    path("me/mobile/", api.MobileChangeView.as_view(), name="me-mobile"),
    path("me/", api.MeView.as_view(), name="me"),
    path("me/calendar.ics", api.CalendarView.as_view(), name="me-calendar"),
    path("me/calendar-link/", api.CalendarLinkView.as_view(), name="me-calendar-link"),
]
