"""``QuestionnaireResponse/[id]/$extract``: an assessment made draft Conditions, Goals and a
CarePlan (``operation.py``)."""
