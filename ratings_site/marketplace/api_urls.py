from django.urls import path

from .api import decision_view
from .models import MoneyAction

app_name = "marketplace_api"
urlpatterns = [
    path(f"marketplace/submissions/<int:pk>/{decision}/", decision_view(decision), name=f"submission-{decision}")
    for decision in (MoneyAction.Action.APPROVE, MoneyAction.Action.REJECT, MoneyAction.Action.BONUS, MoneyAction.Action.BLOCK)
]
