NAVIGATION = [
    ("dashboard", "Dashboard"),
    ("marketdata:data", "Data"),
    ("hardware", "Hardware"),
    ("training:list", "Training"),
    ("backtesting_app:list", "Backtests"),
    ("backtesting_app:patterns", "Patterns"),
    ("optimizations:list", "Optimizations"),
    ("conformal:list", "Conformal"),
    ("registry:list", "Registry"),
]


def navigation(request):
    return {"navigation": NAVIGATION}
