from django.urls import path

from conformal import views

app_name = "conformal"
urlpatterns = [
    path("", views.conformal_page, name="list"),
    path("compare/", views.compare, name="compare"),
    path("runs/<id:pk>/", views.run_detail, name="run"),
    path("runs/<id:pk>/attach/", views.attach, name="attach"),
]
