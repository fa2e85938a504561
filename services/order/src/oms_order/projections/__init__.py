"""Read models of the order service: the order document and the ``orders`` summary table."""
