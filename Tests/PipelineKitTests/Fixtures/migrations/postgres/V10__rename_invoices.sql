ALTER TABLE IF EXISTS public.invoices RENAME TO bills;
