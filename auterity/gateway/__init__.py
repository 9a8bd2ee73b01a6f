"""The model gateway's kernel: what a tenant's route says (`routes`), where routes are
stored (`store`), and the budget ledger that reserves before a call and settles after
(`ledger`). The LiteLLM Router built from a route lives with the `llm` activity."""
