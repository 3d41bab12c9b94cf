"""Statistical process control: XmR processes and step changes, count charts, seasonal adjustment, seasonality."""
