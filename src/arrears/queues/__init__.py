"""Work queues: teams and collectors with skills and capacity, tasks assigned set-based."""
