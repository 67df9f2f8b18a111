"""Care-coordination operations, beside ``interactions/`` and built on it and the store.

One folder per operation: ``everything/`` (``Patient/$everything``), ``worklist/``,
``progress/``, ``apply/`` (``PlanDefinition/$apply``) and ``extract/``
(``QuestionnaireResponse/$extract``), each with its ``operation.py``; ``tasks/`` is the Task
state machine. ``operation.py`` says what a care operation is and ``registry.py`` lists them;
``rules.py`` installs the checks and followers on every write.
"""
