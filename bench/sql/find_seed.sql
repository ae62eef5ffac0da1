SELECT id, status, "totalProspects", completed, "createdAt",
       EXTRACT(EPOCH FROM (NOW() - "createdAt")) / 60 AS stuck_for_minutes
FROM qualification_runs
WHERE status IN ('PENDING', 'PROCESSING')
  AND "createdAt" < NOW() - INTERVAL '30 minutes';
