from django.urls import path

from backtesting_app.views import optimizations as views

app_name = "optimizations"
urlpatterns = [
    path("", views.optimizations_page, name="list"),
    path("runs/<id:pk>/", views.optimization_detail, name="run"),
    path("runs/<id:pk>/trials/", views.optimization_trials_table, name="trials"),
    path("runs/<id:pk>/results/<id:result_id>/backtest/", views.open_as_backtest, name="open-backtest"),
]
