"""Pure rules of the workflow service: no database, no files, no awaits. The services in `service/` apply them."""
