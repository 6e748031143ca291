from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from notifications.chatreview import views as chatreview_views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Approve/Deny button callbacks from Mattermost (404 unless REVIEW_FROM_CHAT_ENABLED).
    path("mattermost/actions", chatreview_views.action, name="mattermost-actions"),
    path("", include("dashboard.urls")),
]
