from django.urls import path

from training import views

app_name = "training"
urlpatterns = [
    path("", views.training_page, name="list"),
    path("runs/<id:pk>/", views.run_detail, name="run"),
]
