from django.urls import path

from marketdata import views

app_name = "marketdata"
urlpatterns = [
    path("", views.data_page, name="data"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
]
