from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("requests/", views.request_list, name="requests"),
    path("requests/<str:request_id>/", views.request_detail, name="request"),
    path("audit/", views.audit, name="audit"),
    path("audit.csv", views.audit_csv, name="audit_csv"),
    path("health/", views.health, name="health"),
]
