"""Propensity scores as segment rule fields (`p_alive < 0.3`, `expected_value >= 50`).

Loaded by console.segments.fields the first time a rule names a field it does not know. A user with no row in
`scores` (never ordered, or no model fitted yet) has NULL here, so no comparison matches them: "likely gone"
means customers who were once there, not people who never bought.
"""

from console.segments.fields import register_field

register_field(
    "p_alive", "(SELECT sc.p_alive FROM scores sc WHERE sc.user_id = u.id)", "number",
    "probability the customer is still a customer (0–1; BG/NBD, Pareto/NBD for one-time buyers), "
    "as of the last `winback model score`",
)
register_field(
    "expected_orders_90d", "(SELECT sc.expected_orders_90d FROM scores sc WHERE sc.user_id = u.id)", "number",
    "orders the model expects from the customer in the next 90 days, unprompted",
)
register_field(
    "expected_value", "(SELECT sc.expected_value FROM scores sc WHERE sc.user_id = u.id)", "number",
    "expected spend in the next 90 days: expected orders × expected value per order (Gamma-Gamma)",
)
