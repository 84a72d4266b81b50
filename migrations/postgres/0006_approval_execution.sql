-- When an approved request was carried out (or found impossible to carry out). NULL on an
-- approved request means its execution is still owed: the process stopped between recording the
-- approval and creating, changing or deleting the instance; the next start resumes it.
ALTER TABLE approval_requests ADD COLUMN executed_at BIGINT;
-- Requests decided before this column existed were carried out when they were decided.
UPDATE approval_requests SET executed_at = decided_at WHERE state <> 'pending';
