"""Business rules of the workflow service. Nothing here commits: the request session does, once the endpoint returns."""
