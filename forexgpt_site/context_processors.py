NAVIGATION = [
    ("dashboard", "Dashboard"),
    ("marketdata:data", "Data"),
    ("hardware", "Hardware"),
    ("training", "Training"),
    ("backtests", "Backtests"),
    ("optimizations", "Optimizations"),
    ("conformal", "Conformal"),
    ("registry", "Registry"),
]


def navigation(request):
    return {"navigation": NAVIGATION}
