-- Amounts in cents overflow integer for enterprise invoices.
ALTER TABLE invoices
    ALTER COLUMN amount SET DATA TYPE numeric(14, 2) USING amount / 100.0;
