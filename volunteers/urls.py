from django.contrib.auth import views as auth_views
from django.urls import path

from volunteers import views

urlpatterns = [
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/login/code/", views.login_by_code, name="login-code"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/workspace/", views.workspace_switch, name="workspace-switch"),
    path("accounts/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/set/", views.password_set, name="password-set"),
    path("accounts/password/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("me/profile/", views.profile, name="profile"),
    path("me/calendar/reset/", views.calendar_reset, name="calendar-reset"),
]
