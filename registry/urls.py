from django.urls import path

from registry import views

app_name = "registry"
urlpatterns = [
    path("", views.registry_list, name="list"),
    path("versions/<id:pk>/", views.version_detail, name="version"),
    path("compare/", views.compare, name="compare"),
]
