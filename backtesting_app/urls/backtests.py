from django.urls import path

from backtesting_app.views import backtests as views

app_name = "backtesting_app"
urlpatterns = [
    path("", views.backtests_page, name="list"),
    path("compare/", views.compare, name="compare"),
    path("patterns/", views.patterns_page, name="patterns"),
    path("runs/<id:pk>/", views.run_detail, name="run"),
]
