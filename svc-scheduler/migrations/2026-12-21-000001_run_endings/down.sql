DROP TABLE run_endings;
