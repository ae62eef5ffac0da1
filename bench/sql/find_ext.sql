SELECT * FROM recovery.find_stuck_runs('30 minutes');
