"""What is kept: MLflow runs, the Model Registry, and the one publish step of a job's folder."""
