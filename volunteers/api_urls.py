from django.urls import path

from volunteers import api

urlpatterns = [
    path("auth/sms-code/", api.SmsCodeView.as_view(), name="auth-sms-code"),
    path("auth/token/", api.TokenView.as_view(), name="auth-token"),
    path("auth/token/reset/", api.TokenResetView.as_view(), name="auth-token-reset"),
    path("me/id-number/", api.IdNumberView.as_view(), name="me-id-number"),
    path("me/password/", api.PasswordView.as_view(), name="me-password"),
    path("me/preferences/", api.PreferencesView.as_view(), name="me-preferences"),
]
