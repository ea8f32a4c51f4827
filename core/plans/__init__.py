"""Review plans: phases, report requests and deadlines, as versioned data files."""
