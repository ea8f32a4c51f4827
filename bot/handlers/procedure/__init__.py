"""The review procedure in chat (QĐ 24/2021 Art. 4), one module per step: last year's list
(listing), applications and Phiếu A (applications), the village meeting (meeting), posting,
complaints, opinion and decision (decision), data-quality checks and the national export
(checks), photos and locations (evidence), what waits for me (status).

Every step writes a `review_steps` row and an audit row (core/procedure/steps.py) in the
update's transaction, so the reply is only sent for a step that was committed. Each module
declares its own rows of the command table (`ROUTES`); bot/router.py concatenates them.
"""
