"""Pure routing: model id + variants + provider preferences + health -> ordered attempts.

preferences.py  the request's `provider` object, parsed
variants.py     `:free`, `:nitro`, `:online`... and model id resolution
filters.py      which endpoints a request may use (and which filter emptied the list)
ordering.py     the order to try them in (order, sort, 1/price² load balancing, health)
auto.py         `openrouter/auto`: choosing a model for the prompt
planner.py      plan_route(): all of the above for `model` + `models`
retry_policy.py what to do after a failed attempt, and the final error
health.py       EndpointHealth, HealthSnapshot, the HealthStore interface, in-process store
health_redis.py the HealthStore shared through Redis
"""
