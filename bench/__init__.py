"""`make bench`: a throughput floor for the widget step, plus the embed, widget and dashboard figures."""
