UPDATE qualification_runs
SET status = 'FAILED', "completedAt" = NOW()
WHERE status IN ('PENDING', 'PROCESSING')
  AND "createdAt" < NOW() - INTERVAL '30 minutes';
