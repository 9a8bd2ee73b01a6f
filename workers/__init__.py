"""The worker process: client, activity instances and the Temporal Worker."""
