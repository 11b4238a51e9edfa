"""Model families of SQL models: each module fits its model types (`fit`), reads a saved
estimator back (`load`), and gives its estimator's BigQuery ML outputs."""
