"""``CarePlan/[id]/$progress`` (``operation.py``) and the follower that keeps plans and goals
up to date (``sync.py``)."""
