SELECT * FROM recovery.recover_stuck_runs('30 minutes');
